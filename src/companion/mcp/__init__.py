"""The MCP server: the core served as tools, widgets and skills to AI assistants (HTTP and stdio)."""
