package cluster

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// The cluster's secret lives in a replicated bucket of its own (the lease
// bucket's keys lapse): made once by whichever node asks first, read by
// every other. Each partition's journal signs with a key derived from it,
// the same owner after owner, so that a page cursor one owner gave is
// taken by the next.
const (
	metaBucket = "baconator_meta"
	secretKey  = "secret"
	secretSize = 32
)

// secrets is the cluster's secret as each connection read it: it never
// changes once made, and a takeover need not ask again.
var secrets sync.Map // jetstream.JetStream → []byte

// partitionSecret is partition p's journal key: HMAC-SHA256 of its name
// under the cluster's secret.
func partitionSecret(ctx context.Context, js jetstream.JetStream, p int) ([]byte, error) {
	var secret []byte
	if known, ok := secrets.Load(js); ok {
		secret = known.([]byte)
	} else {
		err := retried(ctx, func() (err error) {
			secret, err = clusterSecret(ctx, js)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("partition %d: the cluster's secret: %w", p, err)
		}
		secrets.Store(js, secret)
	}
	mac := hmac.New(sha256.New, secret)
	fmt.Fprintf(mac, "partition %02d", p)
	return mac.Sum(nil), nil
}

func clusterSecret(ctx context.Context, js jetstream.JetStream) ([]byte, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: metaBucket, Replicas: Replicas, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, err
	}
	fresh := make([]byte, secretSize)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	_, err = kv.Create(ctx, secretKey, fresh)
	switch {
	case err == nil:
		return fresh, nil
	case !errors.Is(err, jetstream.ErrKeyExists):
		return nil, err
	}
	e, err := kv.Get(ctx, secretKey)
	if err != nil {
		return nil, err
	}
	if len(e.Value()) != secretSize {
		return nil, fmt.Errorf("a secret of %d bytes", len(e.Value()))
	}
	return e.Value(), nil
}
