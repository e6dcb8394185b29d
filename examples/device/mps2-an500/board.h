// What kiln's firmware asks of its board (mps2-an500/startup.cpp implements it).
#pragma once
#include <cstddef>

namespace board {
// The most stack used since reset: the painted words the stack never overwrote, counted from its
// bottom (the whole stack minus that).
size_t stack_high_water_bytes();
// RAM below the stack in use now: data, bss and the C library's heap (its printf buffers).
size_t static_ram_bytes();
}  // namespace board
