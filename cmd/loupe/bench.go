package main

import (
	"context"
	"fmt"
)

func runBench(ctx context.Context, args []string, env *Env) error {
	return fmt.Errorf("bench: not built yet")
}
