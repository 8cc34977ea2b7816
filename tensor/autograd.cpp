// The reverse walk: topological order of the nodes reachable from the root, gradients summed
// per node, leaf gradients accumulated into .grad(), and every visited node freed afterwards.
#include "tensor/autograd.h"

#include <stdexcept>
#include <unordered_map>

#include "tensor/dispatch.h"
#include "tensor/op_helpers.h"
#include "tensor/ops.h"

namespace radgal {

namespace {

thread_local bool grad_mode = true;

// Adds g into the leaf's gradient. The first gradient is copied so that .grad() never aliases a
// buffer of the graph (the same gradient tensor can reach two leaves, e.g. through add); later
// ones are added in place, so code holding the .grad() tensor sees the sum.
void accumulate_into_leaf(TensorImpl& leaf, const Tensor& g) {
  if (g.shape() != leaf.shape) {
    shape_error("backward", "gradient of shape " + shape_to_string(g.shape()) +
                                " reached a leaf of shape " + shape_to_string(leaf.shape));
  }
  if (!leaf.grad.defined()) {
    Tensor fresh = Tensor::empty(g.shape(), g.dtype(), g.device());
    dispatch::copy("backward", g, fresh);
    leaf.grad = fresh;
  } else if (leaf.grad.is_contiguous()) {
    dispatch::accumulate("backward", g.contiguous(), leaf.grad);
  } else {
    leaf.grad = add(leaf.grad, g);
  }
}

}  // namespace

NoGradGuard::NoGradGuard() : previous_(grad_mode) {
  grad_mode = false;
}
NoGradGuard::~NoGradGuard() {
  grad_mode = previous_;
}
bool grad_enabled() {
  return grad_mode;
}

bool should_record(std::initializer_list<Tensor> inputs) {
  if (!grad_mode) return false;
  for (const Tensor& t : inputs) {
    if (t.defined() && t.requires_grad()) return true;
  }
  return false;
}

void record(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn backward) {
  auto node = std::make_shared<Node>();
  node->name = name;
  node->backward = std::move(backward);
  node->output_shape = out.shape();
  node->inputs.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    Node::Edge edge;
    if (t.defined()) {
      edge.shape = t.shape();
      if (t.impl_->grad_fn) {
        edge.node = t.impl_->grad_fn;
      } else if (t.impl_->requires_grad) {
        edge.leaf = t.impl_;
      }
    }
    node->inputs.push_back(std::move(edge));
  }
  out.impl_->grad_fn = std::move(node);
}

void run_backward(const Tensor& root, const Tensor& grad_output) {
  require_defined("backward", root, "tensor");
  require_defined("backward", grad_output, "grad_output");
  if (grad_output.shape() != root.shape()) {
    shape_error("backward", "grad_output shape " + shape_to_string(grad_output.shape()) +
                                " differs from the tensor's shape " +
                                shape_to_string(root.shape()));
  }
  if (!root.requires_grad()) {
    throw std::runtime_error(
        "backward: the tensor does not require a gradient (no input of "
        "its computation had requires_grad set, or it ran under no_grad)");
  }
  NoGradGuard no_grad;
  if (!root.impl_->grad_fn) {
    accumulate_into_leaf(*root.impl_, grad_output);
    return;
  }

  // Count, for every reachable node, how many edges point at it; a node runs once all of them
  // have delivered their gradient. `order` also keeps every node alive during the walk.
  std::vector<std::shared_ptr<Node>> order;
  std::unordered_map<Node*, int> pending;
  {
    std::vector<Node*> stack{root.impl_->grad_fn.get()};
    order.push_back(root.impl_->grad_fn);
    pending[stack.back()] = 0;
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      if (n->released) {
        throw std::runtime_error("backward: the graph through '" + n->name +
                                 "' was already freed by an earlier backward(); run the forward "
                                 "pass again");
      }
      for (const Node::Edge& e : n->inputs) {
        if (!e.node) continue;
        auto [it, inserted] = pending.try_emplace(e.node.get(), 0);
        ++it->second;
        if (inserted) {
          order.push_back(e.node);
          stack.push_back(e.node.get());
        }
      }
    }
  }

  std::unordered_map<Node*, Tensor> grads;
  grads[root.impl_->grad_fn.get()] = grad_output;
  std::vector<Node*> ready{root.impl_->grad_fn.get()};
  while (!ready.empty()) {
    Node* n = ready.back();
    ready.pop_back();
    auto found = grads.find(n);
    const Tensor g = found->second;
    grads.erase(found);

    std::vector<bool> needs(n->inputs.size());
    for (size_t i = 0; i < needs.size(); ++i) needs[i] = n->inputs[i].wanted();
    std::vector<Tensor> input_grads = n->backward(g, needs);
    if (input_grads.size() != n->inputs.size()) {
      throw std::logic_error("backward of '" + n->name + "' returned " +
                             std::to_string(input_grads.size()) + " gradients for " +
                             std::to_string(n->inputs.size()) + " inputs");
    }

    for (size_t i = 0; i < input_grads.size(); ++i) {
      const Node::Edge& e = n->inputs[i];
      if (!e.wanted()) continue;
      const Tensor& gi = input_grads[i];
      if (!gi.defined() || gi.shape() != e.shape) {
        throw std::logic_error("backward of '" + n->name + "' gave input " + std::to_string(i) +
                               " a gradient of shape " +
                               (gi.defined() ? shape_to_string(gi.shape()) : "undefined") +
                               ", expected " + shape_to_string(e.shape));
      }
      if (e.leaf) {
        accumulate_into_leaf(*e.leaf, gi);
        continue;
      }
      Tensor& slot = grads[e.node.get()];
      slot = slot.defined() ? add(slot, gi) : gi;
      if (--pending[e.node.get()] == 0) ready.push_back(e.node.get());
    }

    // Free what this node held: its saved tensors (in the closure) and its links.
    n->backward = nullptr;
    n->inputs.clear();
    n->released = true;
  }
}

}  // namespace radgal
