#pragma once

/// The umbrella header: everything a user of troupe's local runtime needs.

#include "troupe/core/actor.hpp"
#include "troupe/core/discovery.hpp"
#include "troupe/core/endpoint.hpp"
#include "troupe/core/error.hpp"
#include "troupe/core/exit_reason.hpp"
#include "troupe/core/handles.hpp"
#include "troupe/core/listing.hpp"
#include "troupe/core/output_port.hpp"
#include "troupe/core/process_groups.hpp"
#include "troupe/core/receptionist.hpp"
#include "troupe/core/registry.hpp"
#include "troupe/core/response.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/router.hpp"
#include "troupe/core/system.hpp"
#include "troupe/core/task.hpp"
#include "troupe/core/timer.hpp"
#include "troupe/core/worker_pool.hpp"
