-- kind of widget
ALTER TABLE `widget` ADD COLUMN `kind` VARCHAR(16) DEFAULT 'basic' NOT NULL COMMENT 'added in version 2';
DELETE FROM `version` WHERE `table_name` = 'widget';
INSERT INTO `version` (`table_name`, `table_version`) VALUES ('widget', 2);
-- look-ups by name
CREATE INDEX `name_idx` ON `widget` (`name`);
DELETE FROM `version` WHERE `table_name` = 'widget';
INSERT INTO `version` (`table_name`, `table_version`) VALUES ('widget', 3);
-- longer names; note becomes memo
ALTER TABLE `widget` MODIFY COLUMN `name` VARCHAR(128) DEFAULT '' NOT NULL;
ALTER TABLE `widget` ADD COLUMN `memo_tmp` TEXT DEFAULT NULL;
UPDATE `widget` SET `memo_tmp` = `note`;
ALTER TABLE `widget` DROP COLUMN `note`;
ALTER TABLE `widget` RENAME COLUMN `memo_tmp` TO `memo`;
ALTER TABLE `widget` ADD CONSTRAINT `name_n_idx` UNIQUE (`name`, `n`);
DELETE FROM `version` WHERE `table_name` = 'widget';
INSERT INTO `version` (`table_name`, `table_version`) VALUES ('widget', 4);
