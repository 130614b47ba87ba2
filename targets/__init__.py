"""Target profiles: one TOML file per device (package data) and `profile`, which loads and checks them."""
