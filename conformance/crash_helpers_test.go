package conformance_test

import (
	"context"
	"testing"
)

// countdownCtx is a context cancelled after a number of acknowledgements.
type countdownCtx struct {
	context.Context
	left   int
	cancel context.CancelFunc
}

func (c *countdownCtx) ack() {
	c.left--
	if c.left <= 0 {
		c.cancel()
	}
}

func contextAfter(t *testing.T, n int) (*countdownCtx, context.CancelFunc) {
	ctx, cancel := context.WithCancel(t.Context())
	c := &countdownCtx{Context: ctx, left: n, cancel: cancel}
	if n <= 0 {
		cancel()
	}
	return c, cancel
}
