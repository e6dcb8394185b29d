// --device, shared by kiln-train and kiln-infer: the backend their programs are compiled for
// (kiln::CompileOptions::backend, kiln::make_backend's names).
//
//   cmd.option("device", kiln::tools::device_value_name, "where to run", "cpu");
//   const std::string device = kiln::tools::device_of(a);  // early: a missing device fails here
//   copt.backend = device;
//   auto program = kiln::tools::compile_on_device(g, copt);
//
// A device this build or machine lacks ends the tool, through run_tool, with one line such as
//   kiln-train: error: --device cuda: backend 'cuda': this build of kiln has no CUDA backend yet; use --device cpu
// and exit status 1; a device kiln does not know is a usage mistake (exit status 2) that lists
// the devices.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "kiln/backend/backend.h"
#include "kiln/core/error.h"
#include "kiln/runtime/program.h"

namespace kiln::tools {

inline const std::vector<std::string> devices = {"cpu", "cuda"};
inline const char* const device_value_name = "cpu|cuda";

// A message on one line: line breaks become "; ", trailing blanks go.
inline std::string one_line(std::string s) {
    std::string out;
    for (char c : s) {
        if (c == '\r') continue;
        if (c == '\n') out += "; ";
        else out += c;
    }
    while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
    return out;
}

// The --device value, one of `devices` (otherwise a UsageError listing them). A device other than
// the CPU is started once here, so that one the build or the machine lacks stops the tool before
// it reads data or writes a file: kiln::Error "--device cuda: <why>; use --device cpu".
inline std::string device_of(const Args& a) {
    const std::string device = a.choice("device", devices);
    if (device != "cpu") {
        try {
            kiln::make_backend(device);
        } catch (const kiln::Error& e) {
            kiln::fail(e.code(), "--device " + device + ": " + one_line(e.what()) + "; use --device cpu");
        }
    }
    return device;
}

// kiln::compile for options.backend; on a device other than the CPU an error names the device
// (the CPU's messages stay as they were).
inline std::unique_ptr<Program> compile_on_device(const Graph& graph, const CompileOptions& options) {
    if (options.backend == "cpu") return kiln::compile(graph, options);
    try {
        return kiln::compile(graph, options);
    } catch (const kiln::Error& e) {
        kiln::fail(e.code(), "--device " + options.backend + ": " + one_line(e.what()));
    }
}

}  // namespace kiln::tools
