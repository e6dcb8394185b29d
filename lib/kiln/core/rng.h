// Random numbers.
// - Generator: a seeded stream (PCG32) for parameter initialisation, shuffling and data synthesis.
//   Its whole state is two integers, so it can be saved in a checkpoint and restored exactly.
// - counter_uniform: a stateless hash of (key, counter) → [0,1). Kernels use it (dropout masks),
//   so a value depends only on the seed, the step and the element index — never on thread count or
//   the backend — and the backward pass regenerates the forward mask instead of storing it.
#pragma once
#include <cmath>
#include <cstdint>

#include "kiln/core/hostdevice.h"

namespace kiln {

KILN_HD uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// Uniform in [0, 1) with 24 random bits, from a key and a counter.
KILN_HD float counter_uniform(uint64_t key, uint64_t counter) {
    uint64_t h = splitmix64(key ^ splitmix64(counter));
    return static_cast<float>(h >> 40) * (1.0f / 16777216.0f);
}

class Generator {
public:
    explicit Generator(uint64_t seed = 0) { manual_seed(seed); }

    void manual_seed(uint64_t seed) {
        state_ = 0;
        inc_ = (splitmix64(seed) << 1u) | 1u;
        next_u32();
        state_ += splitmix64(seed ^ 0xA5A5A5A5A5A5A5A5ull);
        next_u32();
    }

    uint32_t next_u32() {
        uint64_t old = state_;
        state_ = old * 6364136223846793005ull + inc_;
        uint32_t xorshifted = static_cast<uint32_t>(((old >> 18u) ^ old) >> 27u);
        uint32_t rot = static_cast<uint32_t>(old >> 59u);
        return (xorshifted >> rot) | (xorshifted << ((32 - rot) & 31));
    }
    uint64_t next_u64() { return (uint64_t(next_u32()) << 32) | next_u32(); }

    // Uniform in [0, 1) with 24 random bits (every value exactly representable in f32).
    float uniform() { return static_cast<float>(next_u32() >> 8) * (1.0f / 16777216.0f); }
    float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
    // Standard normal by Box-Muller (one value per call; simple and reproducible).
    float normal() {
        double u1 = (next_u32() + 1.0) * (1.0 / 4294967297.0), u2 = next_u32() * (1.0 / 4294967296.0);
        return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
    }
    float normal(float mean, float std) { return mean + std * normal(); }
    // Uniform integer in [0, n) without modulo bias.
    uint64_t below(uint64_t n) {
        if (n <= 1) return 0;
        uint64_t limit = UINT64_MAX - UINT64_MAX % n;
        uint64_t x;
        do x = next_u64();
        while (x >= limit);
        return x % n;
    }

    // The full state, for checkpoints.
    struct State {
        uint64_t state, inc;
    };
    State get_state() const { return {state_, inc_}; }
    void set_state(State s) { state_ = s.state, inc_ = s.inc | 1u; }

private:
    uint64_t state_ = 0, inc_ = 1;
};

}  // namespace kiln
