// Command switchyard is the customer-event hub: one binary that collects,
// resolves, stores and routes events (see README.md).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	var code exitCode
	switch {
	case errors.As(err, &code):
		os.Exit(int(code))
	case err != nil:
		fmt.Fprintf(os.Stderr, "switchyard: %v\n", err)
		os.Exit(1)
	}
}
