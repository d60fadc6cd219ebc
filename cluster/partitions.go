package cluster

import "hash/fnv"

// Partitions is how many partitions SKUs hash into. Twelve spreads evenly
// over 1, 2, 3, 4, 6 and 12 nodes; three SKUs alone could not spread over
// three nodes with a hash, twelve partitions can.
const Partitions = 12

// PartitionOf is the partition a SKU's orders and pallets live in: FNV-1a
// of the SKU, so every node computes the same without asking.
func PartitionOf(sku string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(sku))
	return int(h.Sum32() % Partitions)
}

// SeedSKUs is a SKU for each partition, SeedSKUs[p] hashing to p: the
// synthetic warehouse a cluster seeds spreads its stock over every
// partition with them, where pork alone would all be in one.
var SeedSKUs = [Partitions]string{"chicken", "veal", "hock", "beef", "bison", "lamb", "goat", "pork", "goose", "ham", "mutton", "turkey"}
