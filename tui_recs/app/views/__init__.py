"""The app's screens: the loading view and the four views (each a mode of the app)."""
