"""Small helpers shared by the seven workflow notebooks, the runner and the services."""
