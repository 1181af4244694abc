"""nbgrader configuration for the course (read from the repository root).

Instructor sources (with solutions and hidden tests) live in ``solutions/``; the student
release generated from them lives in ``exercises/``.  See README, "For instructors".
"""

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "l2-regularization"
c.CourseDirectory.root = "."
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

# Generated releases must not keep the instructor's outputs.
c.ClearOutput.enabled = True
c.ClearSolutions.enforce_metadata = True
