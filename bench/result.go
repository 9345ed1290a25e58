package bench

// Result is every figure of one run. Durations are in seconds and latencies
// in nanoseconds; a zero figure was not measured.
type Result struct {
	Spec
	// Unit is what one operation is: "op", "record", "node", "entry".
	Unit string `json:"unit"`
	// Ops is the number of measured operations and Seconds the wall time of
	// the measured phase (load and warm-up excluded).
	Ops       int64   `json:"ops"`
	Seconds   float64 `json:"seconds"`
	OpsPerSec float64 `json:"ops_per_sec"`
	// CPUSeconds is the CPU time (user + system, every thread of the
	// process: engine goroutines included) of the measured phase, and
	// CPUPerOp the same in ns per operation. On a shared, busy machine it
	// is steadier than wall time, which includes waiting for a CPU.
	CPUSeconds float64 `json:"cpu_seconds"`
	CPUPerOp   float64 `json:"cpu_ns_per_op"`
	// LoadOps and LoadSeconds describe the load phase, timed apart.
	LoadOps     int64   `json:"load_ops,omitempty"`
	LoadSeconds float64 `json:"load_seconds,omitempty"`
	// Latency percentiles of the measured operations, from an HDR histogram
	// (3 significant digits). Hist is the histogram itself, encoded, so that
	// repetitions can be merged.
	P50  float64 `json:"p50_ns"`
	P99  float64 `json:"p99_ns"`
	P999 float64 `json:"p999_ns"`
	Hist []byte  `json:"hist,omitempty"`
	// AllocsPerOp and BytesPerOp are heap allocations of the whole process
	// (engine goroutines included) during the measured phase, per operation.
	AllocsPerOp float64 `json:"allocs_per_op"`
	BytesPerOp  float64 `json:"bytes_per_op"`
	// PeakRSS is the highest resident set size during the run (VmHWM,
	// reset before the run; per process when the run had its own process).
	PeakRSS int64 `json:"peak_rss"`
	// PeakRSSWork is the highest resident set size through the load and
	// measured phases (VmHWM read when the measured phase ends): what the
	// workload's own verification does after it is not counted. 0 when the
	// workload has no measured phase or the platform gives no VmHWM.
	PeakRSSWork int64 `json:"peak_rss_work,omitempty"`
	// DiskBytes is the store directory's allocated blocks after Close.
	DiskBytes int64 `json:"disk_bytes"`
	// WriteBytes is write_bytes of /proc/self/io over the whole run (load,
	// measure and Close); LogicalBytes is what the workload asked to write
	// (keys plus values); WriteAmp is their ratio.
	WriteBytes   int64   `json:"write_bytes"`
	LogicalBytes int64   `json:"logical_bytes"`
	WriteAmp     float64 `json:"write_amp"`
	// Extra holds workload-specific figures (see Env.Extra).
	Extra map[string]float64 `json:"extra,omitempty"`
	// Verified says what the workload checked of its own result.
	Verified string `json:"verified,omitempty"`
	// Isolated is true when the run had a process of its own.
	Isolated bool `json:"isolated"`
	// Err is the failure of the run, if any.
	Err string `json:"error,omitempty"`
}
