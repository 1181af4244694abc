"""nbgrader configuration for the course (read from the repository root).

Instructor sources (with solutions and hidden tests) live in ``solutions/``; the student
release generated from them lives in ``exercises/``.  See README, "For instructors".
"""

import os

from jupyter_core.paths import jupyter_runtime_dir

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "l2-regularization"
# The folder of this file, absolute: a relative root makes every nbgrader command warn
# "root '.' is not absolute, standardizing it" (nbgrader.coursedir._validate_root).
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"

# Only the notebooks are released; nothing else in solutions/<assignment>/ is copied.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "mistakes.toml"]

# Students who delete a test cell still get the instructor's test (nbgrader's default leaves
# it ungraded and scores it 0 as "needs manual grade").
c.OverwriteCells.add_missing_cells = True

# Each cell gets at most this many seconds; an infinite loop is interrupted and scores 0.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
# Kernels talk over ZeroMQ ipc sockets, not loopback TCP (over TCP ipykernel warns on every
# start "Kernel is running over TCP without encryption"). The sockets are files in Jupyter's
# private runtime folder, named per nbgrader process (the kernel runs in the notebook's folder,
# so the path must be absolute; parallel nbgrader runs must not pick the same names).
c.KernelManager.transport = "ipc"
c.KernelManager.ip = os.path.join(jupyter_runtime_dir(), f"nbgrader-{os.getpid()}-ipc")
os.makedirs(jupyter_runtime_dir(), mode=0o700, exist_ok=True)

# Generated releases must not keep the instructor's outputs.
c.ClearOutput.enabled = True
c.ClearSolutions.enforce_metadata = True
