# The install test: installs the build tree into a fresh prefix, then
# configures, builds and runs the outside project tests/install/consumer
# against it (find_package(troupe), troupe::troupe, the simulated-cluster
# kit). Each step is bounded in time; the work folder is removed at the end,
# pass or fail.
#
# cmake -DBUILD_DIR=<troupe build> -DCONSUMER=<tests/install/consumer>
#       -DWORK=<scratch folder> -DGENERATOR=<generator> -DCOMPILER=<c++>
#       [-DLAUNCHER=<ccache>] [-DBUILD_TYPE=<type>] [-DCXX_FLAGS=<flags>]
#       [-DLINK_FLAGS=<flags>] -P check.cmake

foreach(var IN ITEMS BUILD_DIR CONSUMER WORK GENERATOR COMPILER)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "install test: ${var} is not set")
  endif()
endforeach()

string(STRIP "${CXX_FLAGS}" CXX_FLAGS)
string(STRIP "${LINK_FLAGS}" LINK_FLAGS)
set(prefix ${WORK}/prefix)
set(build ${WORK}/build)
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})

# step(<name> <timeout seconds> <command>...): runs the command, and on
# failure prints its output, removes the work folder and fails.
function(step name timeout)
  string(TIMESTAMP start "%s")
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT ${timeout})
  string(TIMESTAMP end "%s")
  math(EXPR took "${end} - ${start}")
  if(NOT rc EQUAL 0)
    file(REMOVE_RECURSE ${WORK})
    message(FATAL_ERROR "install test: ${name} failed (${rc}) after ${took} s:\n${out}\n${err}")
  endif()
  message(STATUS "install test: ${name}: ok (${took} s)")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

step(install 60 ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

# What a user gets: the kit's header, no internal header, the package config.
set(missing)
foreach(f IN ITEMS include/troupe/troupe.hpp include/troupe/cluster/testing/sim_cluster.hpp
                   include/troupe/cluster/cluster.hpp lib/cmake/troupe/troupeConfig.cmake
                   lib/cmake/troupe/troupeConfigVersion.cmake lib/cmake/troupe/troupeTargets.cmake)
  if(NOT EXISTS ${prefix}/${f})
    list(APPEND missing ${f})
  endif()
endforeach()
file(GLOB_RECURSE internal RELATIVE ${prefix} ${prefix}/include/*/internal/*)
if(missing OR internal)
  file(REMOVE_RECURSE ${WORK})
  message(FATAL_ERROR "install test: missing: ${missing}; installed but internal: ${internal}")
endif()

set(configure ${CMAKE_COMMAND} -S ${CONSUMER} -B ${build} -G ${GENERATOR}
  -DCMAKE_CXX_COMPILER=${COMPILER}
  -DCMAKE_PREFIX_PATH=${prefix}
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
if(LAUNCHER)
  list(APPEND configure -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()
if(BUILD_TYPE)
  list(APPEND configure -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
endif()
if(CXX_FLAGS)
  list(APPEND configure "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}")
endif()
if(LINK_FLAGS)
  list(APPEND configure "-DCMAKE_EXE_LINKER_FLAGS=${LINK_FLAGS}")
endif()
step(configure 60 ${configure})
# It found the troupe just installed, not another.
string(FIND "${step_output}" "from ${prefix}/" found)
if(found EQUAL -1)
  file(REMOVE_RECURSE ${WORK})
  message(FATAL_ERROR "install test: the consumer did not find troupe in ${prefix}:\n${step_output}")
endif()

step(build 240 ${CMAKE_COMMAND} --build ${build})
step(run 60 ${build}/consumer)
message(STATUS "${step_output}")

file(REMOVE_RECURSE ${WORK})
