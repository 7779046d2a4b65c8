-- Runs once, when the compose PostgreSQL volume is first created: the review tool keeps its own
-- tables (staff, notes, the conversation index) in a database of its own on the same server.
CREATE DATABASE upwell_review OWNER upwell;
