# A backup is imported by its VPS id and its backup id, joined by a slash.
terraform import hostup_vps_backup.db_before_upgrade vps_01j9k2db000000000000000001/bkp_01j9k2db200000000000000001
