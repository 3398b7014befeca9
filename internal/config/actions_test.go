package config

import "github.com/switchyardhq/switchyard/internal/action/builtin"

// actions are the action families this build ships, as the wiring passes
// them to validation.
var actions = builtin.Registry
