// Runs the transforms plugin's operations on the cases torchvision_crosscheck.py writes, so that
// the script can compare them with torchvision and PIL. Not part of the build or the tests: the
// script compiles it with the plugin's sources.
//
// Input (argv[1]), repeated: a line "op arg arg ...", a line "h w c", then h·w·c bytes (u8 H×W×C).
// Output (argv[2]), per case: a line "u8 h w c" or "f32 c h w" (or "error <message>"), then the data.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "transforms/ops.h"

using namespace kiln::transforms;

namespace {

Interpolation interp_of(const std::string& s) { return s == "bilinear" ? Interpolation::bilinear : Interpolation::nearest; }

Fill fill_of(const std::string& s) {  // "none" or v[:v:v]
    Fill f;
    if (s == "none") return f;
    std::stringstream ss(s);
    std::string part;
    while (std::getline(ss, part, ':')) f.push_back(std::stof(part));
    return f;
}

TaOp ta_op_of(const std::string& name) {
    for (int i = 0; i < ta_op_count; ++i)
        if (ta_op_name(TaOp(i)) == name) return TaOp(i);
    throw TransformError("unknown op " + name);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: crosscheck_driver cases.bin results.bin\n";
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    std::ofstream out(argv[2], std::ios::binary);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream cmd(line);
        std::string op;
        cmd >> op;
        int64_t h, w, c;
        in >> h >> w >> c;
        in.get();
        ImageU8 img(h, w, c);
        in.read(reinterpret_cast<char*>(img.px.data()), std::streamsize(img.px.size()));
        ImageU8 res;
        TensorF32 t;
        bool is_tensor = false;
        try {
            if (op == "hflip") hflip(img, res);
            else if (op == "vflip") vflip(img, res);
            else if (op == "pad") {
                Padding p;
                std::string mode, fill;
                cmd >> p.left >> p.top >> p.right >> p.bottom >> mode >> fill;
                const PadMode m = mode == "edge" ? PadMode::edge : mode == "reflect" ? PadMode::reflect
                                : mode == "symmetric" ? PadMode::symmetric : PadMode::constant;
                pad(img, p, m, fill_of(fill), res);
            } else if (op == "center_crop") {
                int64_t th, tw;
                cmd >> th >> tw;
                center_crop(img, th, tw, res);
            } else if (op == "resize") {
                int64_t oh, ow;
                cmd >> oh >> ow;
                resize_bilinear(img, oh, ow, res);
            } else if (op == "rotate") {
                double angle;
                std::string interp, fill, center;
                int expand;
                cmd >> angle >> interp >> expand >> center >> fill;
                std::optional<std::array<double, 2>> ctr;
                if (center != "none") {
                    const Fill cf = fill_of(center);
                    ctr = std::array<double, 2>{cf[0], cf[1]};
                }
                rotate(img, angle, interp_of(interp), expand != 0, ctr, fill_of(fill), res);
            } else if (op == "grayscale") {
                int n;
                cmd >> n;
                grayscale(img, n, res);
            } else if (op == "ta") {
                std::string name, interp, fill;
                double magnitude;
                cmd >> name >> magnitude >> interp >> fill;
                ta_apply(img, ta_op_of(name), magnitude, interp_of(interp), fill_of(fill), res);
            } else if (op == "to_tensor") {
                to_tensor(img, t);
                is_tensor = true;
            } else if (op == "normalize") {
                std::string mean, std;
                cmd >> mean >> std;
                to_tensor(img, t);
                normalize(t, fill_of(mean), fill_of(std));
                is_tensor = true;
            } else if (op == "magnitudes") {  // 14 × bins, -1 where an op has no magnitude
                int bins;
                cmd >> bins;
                t.reshape(1, ta_op_count, bins);
                for (int k = 0; k < ta_op_count; ++k) {
                    const std::vector<float> m = ta_magnitudes(TaOp(k), bins);
                    for (int b = 0; b < bins; ++b) t.at(0, k, b) = m.empty() ? -1.0f : m[size_t(b)];
                }
                is_tensor = true;
            } else {
                throw TransformError("unknown case " + op);
            }
        } catch (const std::exception& e) {
            out << "error " << e.what() << "\n";
            continue;
        }
        if (is_tensor) {
            out << "f32 " << t.c << " " << t.h << " " << t.w << "\n";
            out.write(reinterpret_cast<const char*>(t.v.data()), std::streamsize(t.v.size() * sizeof(float)));
        } else {
            out << "u8 " << res.h << " " << res.w << " " << res.c << "\n";
            out.write(reinterpret_cast<const char*>(res.px.data()), std::streamsize(res.px.size()));
        }
    }
    return 0;
}
