//go:build !linux

package bench

import "time"

func procWriteBytes() (int64, bool) { return 0, false }
func peakRSS() int64                { return 0 }
func resetPeakRSS() bool            { return false }
func cpuModel() string              { return "" }
func memTotal() int64               { return 0 }
func cpuTime() time.Duration        { return 0 }
func rssSplit() (anon, file int64)  { return 0, 0 }
