"""The editor's session state, independent of Dear PyGui: the project, files, engine news."""
