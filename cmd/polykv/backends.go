package main

// Every backend, so that DSNs and --backends can name any of them.
import _ "github.com/polykv/polykv/backends/all"
