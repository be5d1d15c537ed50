"""Pure parsers: text in, typed data out, no I/O, so they are testable on captured outputs."""
