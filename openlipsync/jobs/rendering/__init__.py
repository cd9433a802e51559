"""Running one render: a supervised child process per job, with its lease and timeout."""
