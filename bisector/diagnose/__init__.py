"""The diagnosis track around a hunt: audit earlier evidence, compare two images, diff two
per-pixel traces, verify a fix on every scenario (one module per command)."""
