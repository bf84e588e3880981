"""The `rnnzoo` command line: the top layer that wires tasks, the zoo and export together."""
