"""The engine process: the request loop the editor talks to, and its watchdog."""
