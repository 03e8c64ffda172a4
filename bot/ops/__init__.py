"""Running the desk in production: webhook server and health, logs, doctor, backup and restore."""
