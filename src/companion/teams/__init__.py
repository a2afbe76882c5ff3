"""Teams: an organisation on the team tier, its seats, invitations and analytics."""
