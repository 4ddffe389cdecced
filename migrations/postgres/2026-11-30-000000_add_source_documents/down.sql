-- Drops the sources' documents.
DROP TABLE idm_source_documents;
