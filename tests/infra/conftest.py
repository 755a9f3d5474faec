from tests.infra.mock_program import program_run  # noqa: F401  (fixture)
