"""Model access: provider credentials, model resolution and the streaming gateway."""
