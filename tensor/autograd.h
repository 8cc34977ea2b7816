// The autograd tape: one Node per recorded operator, linked to the nodes (or leaves) that made
// its inputs. Operators record themselves with record(); Tensor::backward() runs the reverse walk
// in tensor/autograd.cpp. Internal to tensor/.
//
// Memory: a node keeps what its backward needs (saved tensors are detached, so a node never
// owns its own output and no reference cycle forms) plus shared pointers to the nodes of its
// inputs. After a backward pass every visited node drops both, so the graph is freed even while
// the output tensor itself stays alive.
//
// Saved tensors share storage with the tensors the forward pass saw. There is no version
// counter: writing into such a tensor in place (copy_, fill_, data()) between forward and
// backward changes the gradients silently. Optimisers write parameters after backward, which
// is safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/storage.h"
#include "tensor/tensor.h"

namespace radgal {

// Gradients of the inputs, in input order, given the gradient of the output. needs[i] says
// whether input i wants one; the others may be returned undefined. The result for input i must
// have input i's shape (it may be a non-contiguous view).
using BackwardFn =
    std::function<std::vector<Tensor>(const Tensor& grad_output, const std::vector<bool>& needs)>;

struct Node {
  // Where the gradient of one input goes: into another node, into a leaf's .grad, or nowhere.
  struct Edge {
    std::shared_ptr<Node> node;
    std::shared_ptr<TensorImpl> leaf;
    Shape shape;  // the input's shape, to check what backward returns
    bool wanted() const { return node || leaf; }
  };

  std::string name;  // the operator, for error messages
  BackwardFn backward;
  std::vector<Edge> inputs;
  Shape output_shape;
  bool released = false;  // set once a backward pass has used and freed this node
};

// True when grad mode is on and any defined input requires a gradient.
bool should_record(std::initializer_list<Tensor> inputs);

// Makes `out` a non-leaf whose gradient flows to `inputs` through `backward`. Call only when
// should_record() said so.
void record(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn backward);

// Runs the reverse walk from `root`, seeding it with `grad_output` (root's shape).
void run_backward(const Tensor& root, const Tensor& grad_output);

}  // namespace radgal
