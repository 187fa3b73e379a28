"""The app's four screens, one per mode."""
