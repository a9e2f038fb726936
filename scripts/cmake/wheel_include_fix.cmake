# Included at the first project() of every package built against the ROS 2 PyPI wheels
# (CMAKE_PROJECT_TOP_LEVEL_INCLUDES, set by scripts/setup.sh). The wheels' exported CMake targets
# name include folders of the machine that built them (/opt/python/cp311-cp311/...), and CMake
# refuses to generate when an imported target names a folder that does not exist. At the end of
# configuration, rewrite those folders to this machine's Python and site-packages.
#
# Inputs (cache variables): WHEEL_BUILD_PREFIX  prefix the wheels were built under
#                           WHEEL_PYTHON_INCLUDE this interpreter's include folder
#                           WHEEL_SITE_PACKAGES  this venv's site-packages folder

if(NOT DEFINED WHEEL_BUILD_PREFIX)
  set(WHEEL_BUILD_PREFIX "/opt/python/cp311-cp311")
endif()

function(_wheel_fix_targets_in dir)
  get_property(targets DIRECTORY "${dir}" PROPERTY IMPORTED_TARGETS)
  foreach(target IN LISTS targets)
    get_target_property(includes ${target} INTERFACE_INCLUDE_DIRECTORIES)
    if(NOT includes)
      continue()
    endif()
    set(fixed "")
    foreach(path IN LISTS includes)
      string(REPLACE "${WHEEL_BUILD_PREFIX}/include/python3.11" "${WHEEL_PYTHON_INCLUDE}"
        path "${path}")
      string(REPLACE "${WHEEL_BUILD_PREFIX}/lib/python3.11/site-packages" "${WHEEL_SITE_PACKAGES}"
        path "${path}")
      list(APPEND fixed "${path}")
    endforeach()
    if(NOT "${fixed}" STREQUAL "${includes}")
      set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${fixed}")
    endif()
  endforeach()
  get_property(subdirs DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
  foreach(subdir IN LISTS subdirs)
    _wheel_fix_targets_in("${subdir}")
  endforeach()
endfunction()

function(_wheel_fix_all_targets)
  _wheel_fix_targets_in("${CMAKE_SOURCE_DIR}")
endfunction()

if(WHEEL_PYTHON_INCLUDE AND WHEEL_SITE_PACKAGES)
  cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _wheel_fix_all_targets)
endif()
