"""What goes back to clients: signed links, the project object, and webhook deliveries."""
