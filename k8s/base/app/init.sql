-- The shop's data lives in the database named by POSTGRES_DB ("shop"); the course's progress
-- (learners, attempts, scores) gets a database of its own.
CREATE DATABASE dojo;
