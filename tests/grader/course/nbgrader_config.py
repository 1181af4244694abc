"""nbgrader configuration of the grader's fixture course (tests/grader/course)."""

c = get_config()  # noqa: F821

c.CourseDirectory.course_id = "l2course-fixture"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
c.OverwriteCells.add_missing_cells = True
c.Execute.timeout = 10
c.ClearOutput.enabled = True
