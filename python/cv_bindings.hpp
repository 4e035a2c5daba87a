// cvxnn._core's cross-validation entry (cv_bindings.cpp), registered from PYBIND11_MODULE.
#pragma once

#include <pybind11/pybind11.h>

namespace cvxnn {

/// Adds `cross_validate` (the engine of cvxnn.cross_val) and `_model_predict_labels` to `m`.
void bind_cross_validation(pybind11::module_& m);

}  // namespace cvxnn
