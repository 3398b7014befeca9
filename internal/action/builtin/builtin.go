// Package builtin registers every action family Switchyard ships. Adding
// an action family is a package under internal/action and a line here.
package builtin

import (
	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/action/amqp"
	"github.com/switchyardhq/switchyard/internal/action/customerio"
	"github.com/switchyardhq/switchyard/internal/action/httpcall"
	"github.com/switchyardhq/switchyard/internal/action/kafka"
	"github.com/switchyardhq/switchyard/internal/action/nats"
	"github.com/switchyardhq/switchyard/internal/action/s3"
	"github.com/switchyardhq/switchyard/internal/action/slack"
	"github.com/switchyardhq/switchyard/internal/action/webhook"
)

// Registry holds the built-in destination kinds and actions.
var Registry = action.NewRegistry(
	customerio.Family,
	webhook.Family,
	httpcall.Family,
	slack.Family,
	nats.Family,
	amqp.Family,
	kafka.Family,
	s3.Family,
)
