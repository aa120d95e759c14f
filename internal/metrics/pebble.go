package metrics

import (
	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// PebbleCollector exports Pebble's own figures at scrape time.
type PebbleCollector struct {
	metrics func() *pebble.Metrics

	disk, readAmp, compactions, compactDebt, memtable, cacheHits, cacheMisses, cacheBytes, walBytes *prometheus.Desc
}

// NewPebbleCollector reads figures from fn (state.Store.Metrics) at each scrape.
func NewPebbleCollector(fn func() *pebble.Metrics) *PebbleCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("peakend_pebble_"+name, help, nil, nil)
	}
	return &PebbleCollector{
		metrics:     fn,
		disk:        d("disk_bytes", "Disk space used by the Pebble store."),
		readAmp:     d("read_amplification", "Current read amplification (sublevels and levels a read may visit)."),
		compactions: d("compactions_total", "Compactions completed."),
		compactDebt: d("compaction_debt_bytes", "Estimated bytes to compact before the LSM is stable."),
		memtable:    d("memtable_bytes", "Bytes held in memtables."),
		cacheHits:   d("block_cache_hits_total", "Block cache hits."),
		cacheMisses: d("block_cache_misses_total", "Block cache misses."),
		cacheBytes:  d("block_cache_bytes", "Bytes in the block cache."),
		walBytes:    d("wal_bytes", "Bytes in the write-ahead log."),
	}
}

// Describe implements prometheus.Collector.
func (c *PebbleCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.disk, c.readAmp, c.compactions, c.compactDebt, c.memtable,
		c.cacheHits, c.cacheMisses, c.cacheBytes, c.walBytes} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *PebbleCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.metrics()
	if m == nil {
		return
	}
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	k := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	g(c.disk, float64(m.DiskSpaceUsage()))
	g(c.readAmp, float64(m.ReadAmp()))
	k(c.compactions, float64(m.Compact.Count))
	g(c.compactDebt, float64(m.Compact.EstimatedDebt))
	g(c.memtable, float64(m.MemTable.Size))
	k(c.cacheHits, float64(m.BlockCache.Hits))
	k(c.cacheMisses, float64(m.BlockCache.Misses))
	g(c.cacheBytes, float64(m.BlockCache.Size))
	g(c.walBytes, float64(m.WAL.Size))
}
