// What kiln's firmware asks of its board (mps2-an500/startup.cpp implements it).
#pragma once
#include <cstddef>

namespace board {
// The most stack used since reset: the painted words the stack never overwrote, counted from its
// bottom (the whole stack minus that).
size_t stack_high_water_bytes();
}  // namespace board
