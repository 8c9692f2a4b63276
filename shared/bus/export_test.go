package bus

import (
	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/job"
)

// LayoutBeforePriorities is what provisioning made before priority
// classes: the streams as now, and one runners' consumer per model taking
// all of its work (filter cyberimage.jobs.<model>.>). Exported here for
// the external tests, which run with real roles and so cannot be in this
// package (natsauth and testenv import it).
func LayoutBeforePriorities(s Settings, model string) ([]jetstream.StreamConfig, jetstream.ConsumerConfig) {
	normal := runnerConsumer(s, model, job.PriorityNormal).cfg
	normal.FilterSubject = "cyberimage.jobs." + model + ".>"
	return desiredStreams(s), normal
}
