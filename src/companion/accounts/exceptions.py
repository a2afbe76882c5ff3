"""Account errors with stable codes."""

from companion.errors import Conflict, Unauthorized


class EmailTaken(Conflict):
    def __init__(self) -> None:
        super().__init__("An account with this email already exists.", details={"field": "email"})


class InvalidCredentials(Unauthorized):
    def __init__(self) -> None:
        # One message for unknown email and wrong password: no account enumeration.
        super().__init__("Incorrect email or password.")


class InvalidRefreshToken(Unauthorized):
    def __init__(self) -> None:
        super().__init__("The refresh token is invalid, expired or revoked.")
