"""The API's resources, one router per page of the portal they stand for."""
