package stats

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
)

// ConsumerDepth samples the work queue's depth from the runners'
// consumers: the messages not yet delivered, by model and by priority
// class. Each consumer's filter names both: cyberimage.jobs.<model>.* is a
// model's normal work, cyberimage.jobs.<model>.<class>.* its work of
// another class.
func ConsumerDepth(js jetstream.JetStream) func(ctx context.Context) (byModel, byPriority map[string]int, err error) {
	return func(ctx context.Context) (map[string]int, map[string]int, error) {
		stream, err := js.Stream(ctx, bus.StreamJobs)
		if err != nil {
			return nil, nil, fmt.Errorf("jobs stream: %w", err)
		}
		byModel, byPriority := map[string]int{}, map[string]int{}
		infos := stream.ListConsumers(ctx)
		for info := range infos.Info() {
			model, class, ok := classOf(info.Config.FilterSubject)
			if !ok {
				continue
			}
			byModel[model] += int(info.NumPending)
			byPriority[class] += int(info.NumPending)
		}
		if err := infos.Err(); err != nil {
			return nil, nil, fmt.Errorf("consumer info: %w", err)
		}
		return byModel, byPriority, nil
	}
}

// classOf reads the model and priority class from a runners' consumer's
// filter subject.
func classOf(filter string) (model, class string, ok bool) {
	rest, ok := strings.CutPrefix(filter, strings.TrimSuffix(bus.SubjectJobsAll, ">"))
	if !ok {
		return "", "", false
	}
	switch t := strings.Split(rest, "."); {
	case len(t) == 2 && t[1] == "*":
		return t[0], "normal", true
	case len(t) == 3 && t[2] == "*":
		return t[0], t[1], true
	}
	return "", "", false
}
