"""The ``mouselab`` command line: one thin module per subcommand, no logic of its own."""
