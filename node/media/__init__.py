"""Media items: chunk storage on disk and the chunk transfer protocol."""
