package sandbox

import "hash/fnv"

// Every random choice the sandbox makes (ids, fault decisions, processing
// outcomes, label colours) is a pure function of the seed, a domain naming
// the choice, a sequence number and an attempt counter. Nothing depends on
// a shared stream, so the choices of one endpoint do not shift when
// requests to another arrive in a different order.

// mix is SplitMix64's finaliser: a cheap bijection that spreads every input
// bit over the output.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// draw returns the 64 random bits of (seed, domain, n, attempt).
func draw(seed int64, domain string, n, attempt uint64) uint64 {
	h := fnv.New64a()
	h.Write([]byte(domain))
	x := mix(uint64(seed) ^ h.Sum64())
	x = mix(x ^ n)
	return mix(x ^ attempt)
}

// unit maps bits to [0, 1) with 53 bits of precision.
func unit(bits uint64) float64 { return float64(bits>>11) / (1 << 53) }

// chance reports whether the event of probability p happens for these bits.
func chance(p float64, bits uint64) bool { return p > 0 && unit(bits) < p }
