// The course's multi-class chapter: four Gaussian blobs, a small ReLU network trained with
// CrossEntropy, and predictions read as softmax probabilities → argmax.
#include <algorithm>
#include <cstdio>
#include <string>

#include "common.h"
#include "kiln/data/synthetic.h"
#include "kiln/runtime/program.h"
#include "kiln/nn/layers.h"

using namespace kiln;

namespace {

constexpr int64_t n_classes = 4;

// Fraction of rows of probs [n, n_classes] whose argmax is the label.
float accuracy(const std::vector<float>& probs, const std::vector<int64_t>& labels) {
    int64_t correct = 0;
    for (size_t i = 0; i < labels.size(); ++i) {
        const float* row = probs.data() + i * n_classes;
        correct += std::max_element(row, row + n_classes) - row == labels[i];
    }
    return float(correct) / float(labels.size());
}

}  // namespace

int main(int argc, char** argv) {
    // make_blobs draws its centres at random, and some seeds put two of them within a couple of
    // cluster_std of each other, where no model can reach 99%. The default seed draws centres at
    // least 9 apart, about as separated as the course's data (scikit-learn's random_state=42).
    example::Args args{.seed = 46};
    if (int status = 0; !example::parse_args(argc, argv, args, status)) return status;
    try {
        const std::string spec = "synthetic:blobs,n=1000,features=2,centers=" + std::to_string(n_classes) +
                                 ",std=1.5,box=-10:10,seed=" + std::to_string(args.seed);
        auto [train, test] = data::train_test_split(example::load<int64_t>(spec), 0.2, args.seed);
        std::printf("make_blobs: %lld training and %lld test points, %lld classes\n", (long long)train.size(),
                    (long long)test.size(), (long long)n_classes);

        // The course's BlobModel: nn.Sequential(Linear(2, 8), ReLU, Linear(8, 8), ReLU, Linear(8, 4)),
        // so its parameters are named linear_layer_stack.0/.2/.4.
        Graph g(args.seed);
        Value x = g.input("x", {train.size(), 2});
        Value y = g.input("y", {train.size()}, DType::i64);
        Value h = g.relu(nn::linear(g, "linear_layer_stack.0", x, 8));
        h = g.relu(nn::linear(g, "linear_layer_stack.2", h, 8));
        Value logits = nn::linear(g, "linear_layer_stack.4", h, n_classes);
        Value probs = g.softmax(logits, 1);
        CompileOptions opt;
        opt.loss = g.cross_entropy(logits, y);
        opt.optimizer = SGD{.lr = 0.1f};
        opt.outputs = {probs};
        auto prog = compile(g, opt);
        std::printf("memory: %s", prog->memory_report().c_str());

        auto evaluate = [&](const data::Classification& s, float* loss) {
            prog->write_input(x, s.x.data(), s.size());
            prog->write_input(y, s.y.data(), s.size());
            prog->forward(s.size());
            *loss = prog->loss();
            return accuracy(prog->read(probs), s.y);
        };
        const int epochs = 100;
        float test_acc = 0, train_loss = 0, test_loss = 0;
        for (int epoch = 0; epoch <= epochs; ++epoch) {
            if (epoch % 10 == 0) {
                float train_acc = evaluate(train, &train_loss);
                test_acc = evaluate(test, &test_loss);
                std::printf("Epoch: %4d | Loss: %.5f, Accuracy: %6.2f%% | Test loss: %.5f, Test accuracy: %6.2f%%\n",
                            epoch, train_loss, 100 * train_acc, test_loss, 100 * test_acc);
            }
            if (epoch == epochs) break;
            prog->write_input(x, train.x.data(), train.size());
            prog->write_input(y, train.y.data(), train.size());
            prog->train_step(train.size());
        }

        bool ok = test_acc >= 0.99f;
        std::printf("result: test_accuracy=%.4f\n", test_acc);
        if (!ok) std::printf("target missed: test accuracy should reach 99%% (are two centres too close for this seed?)\n");
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 2;
    }
}
